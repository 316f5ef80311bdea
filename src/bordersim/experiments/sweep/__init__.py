"""Parameter sweeps: the sweep file (:mod:`.spec`), its design (:mod:`.design`), the run ledger
(:mod:`.ledger`), execution (:mod:`.execution`), combined results (:mod:`.results`) and figures
(:mod:`.figures`). See docs/SWEEPS.md."""
