"""Auth: the Cognito triggers (pre sign-up checks and account linking, post confirmation), the
profile writer fed by post confirmation, and the HTTP API's edge authorizer."""
