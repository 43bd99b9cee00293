"""15-minute life circles: profiles (planning standards as data), reach to every facility category,
per-point answers, household-weighted coverage of areas and the gaps."""
