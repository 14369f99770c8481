"""The SQLite store under the data directory (`connection`: the file and its migrations) and what
it holds: the result cache (`results`), batch jobs (`jobs`); the API keys file (`keys`); and the
lock that gives a data directory one owner (`lock`)."""
