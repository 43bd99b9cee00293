"""Photos of incidents and station inspections: checked, cleaned of personal metadata, stored with a checksum."""
