-- ListParties of one tag walks the tag's parties in id order from the page's position on, and no
-- more. With the tag alone, each page read every party with the tag and sorted them, or walked
-- every party in id order for a rare tag.
CREATE INDEX party_tags_page ON party_tags (tag, party_id);
