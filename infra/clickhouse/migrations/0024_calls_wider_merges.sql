-- Fewer, wider background merges of calls (docs/adr/0061-fewer-wider-merges-of-calls.md).
--
-- merge_selector_base (default 5) is how many parts of about one size the merge selector lets gather before it
-- merges them: at 10 a stored call is rewritten by merges about log10 instead of log5 times of the parts one
-- day's partition grows to, which is most of the merge thread's CPU under a steady stream of inserts. A
-- partition holds somewhat more parts between merges; reads (one partition a day, primary key by tenant and
-- time) prune to the same granules.
ALTER TABLE ${database}.calls MODIFY SETTING merge_selector_base = 10;
