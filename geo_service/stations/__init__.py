"""Rest stations for outdoor workers (暖心驿站 and kin): vocabulary, opening hours, CRUD, nearest search."""
