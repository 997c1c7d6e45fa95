"""Scheduled reminders: jobs EventBridge runs on a schedule that publish what an alarm watches."""
