"""Log sources: onboarding (ids and ready-to-use configuration), health, silence incidents, coverage."""
