"""Web Push to cadres' phones: VAPID keys, the push-service allow-list, and the sender."""
