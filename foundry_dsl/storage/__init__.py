"""Storage: backends (local, S3, Azure, GCS, custom) and the commit protocol."""
