-- A record quarantined once with a reason is not quarantined again until it changes (DESIGN 3.1.2):
-- content_hash is a keyed hash (HMAC under the pseudonym key, never a plain digest of personal data) of the
-- entity, the reason and the record as it was read. The extractor skips a rejection whose hash is there.
ALTER TABLE audit.quarantine ADD COLUMN content_hash text;
CREATE INDEX quarantine_content ON audit.quarantine (source, entity, content_hash) WHERE content_hash IS NOT NULL;
