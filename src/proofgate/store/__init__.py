"""The SQLite store under the data directory (`connection`: the file and its migrations) and what
it holds: the result cache (`results`), batch jobs (`jobs`); and the API keys file (`keys`)."""
