-- A node's patch group (its `Patch Group` tag, else `PatchGroup`), kept beside its tags so
-- that fleet listings filter and page on it in SQL.
ALTER TABLE nodes ADD COLUMN patch_group TEXT;
UPDATE nodes SET patch_group = COALESCE(
    (SELECT json_extract(t.value, '$[1]') FROM json_each(nodes.tags_json) t
      WHERE json_extract(t.value, '$[0]') = 'Patch Group' LIMIT 1),
    (SELECT json_extract(t.value, '$[1]') FROM json_each(nodes.tags_json) t
      WHERE json_extract(t.value, '$[0]') = 'PatchGroup' LIMIT 1));
CREATE INDEX nodes_hostname ON nodes (hostname, id);
CREATE INDEX nodes_patch_group ON nodes (patch_group, hostname, id);
