"""Recommendation: co-listening, "because you listened to", genre cold start (Lambda + EKS)."""
