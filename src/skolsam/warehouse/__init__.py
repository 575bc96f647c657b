"""The PostgreSQL reporting warehouse: where it runs, how it is migrated, how data gets in."""
