"""Full backups: mongodump-compatible layout, consistency via the oplog, stores, links."""
