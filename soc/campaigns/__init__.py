"""Campaigns: attackers seen by two or more agencies, read from the attacker-centred incidents."""
