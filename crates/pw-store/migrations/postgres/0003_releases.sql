-- Releases of versioned repositories (Amazon Linux 2023) the server has learned, from Amazon's
-- release metadata or an operator's import. `learned_at` never changes once set: a window
-- execution chooses among the releases learned before it was created, so every host of one
-- execution sees the same list.
CREATE TABLE releases (
    operating_system TEXT NOT NULL,
    version TEXT NOT NULL,
    release_date TEXT NOT NULL,
    learned_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (operating_system, version)
);

-- The release the node was locked to when it reported (Amazon Linux 2023), for release drift
-- per patch group; NULL on other systems and for reports of older agents.
ALTER TABLE compliance_reports ADD COLUMN release TEXT;
