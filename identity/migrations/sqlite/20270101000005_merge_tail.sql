-- A merge as a tail entry of the kept customer's record.
--
-- A join used to write the kept customer's record whole: for a large customer 1-2 MB of lists
-- to the log (and as much again zeroed by secure_delete where the old ones stood), while what
-- changed is the absorbed customer's few rows. A tail entry may now carry the absorbed
-- customer's lists instead of one row (`absorbed`: a JSON array of the record text's five
-- lists, `store/sqlite/tails.rs`; `secondary_id` is then the absorbed primary and
-- `email`/`phone` are NULL); a read applies it as the merge itself
-- (`CustomerRecord::merged_with`). Rows added as before leave it NULL.
ALTER TABLE identity_customer_tail ADD COLUMN absorbed TEXT;
