"""Music Catalog: artists, albums, tracks; browse, search, ingest from S3, signed streaming URLs."""
