"""Auth: Cognito triggers (pre sign-up e-mail checks and account linking, post confirmation)."""
