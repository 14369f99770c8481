from proofgate.cli import main

main()
