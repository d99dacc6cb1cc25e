-- Whether nodes enrolling with a code may declare tags of their own (docs/security.md).
ALTER TABLE activations ADD COLUMN allow_node_tags BIGINT NOT NULL DEFAULT 1;
