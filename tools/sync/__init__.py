"""Coexistence sync: hybrid logical clock, three-way field merge, ownership ledger, conflicts."""
