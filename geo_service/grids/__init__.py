"""Areas and grids: the district → street → community → grid hierarchy planners draw."""
