"""Real-Time Activity Feed: WebSocket connections and fan-out of activity to followers."""
