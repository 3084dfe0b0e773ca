"""Invitations: a nurse invites a patient by email; the patient chooses a password."""
