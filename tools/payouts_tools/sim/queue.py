"""SQS as the simulation sees it: at-least-once, visibility timeouts, receive counts, a DLQ.

Messages a consumer takes become invisible for the visibility timeout; one not deleted by then is
received again. A message received more than ``max_receive_count`` times moves to the DLQ at the
next receive, as SQS's redrive policy does. Intake's explicit dead letters go to the same DLQ,
with the reason as an attribute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import count


@dataclass
class Message:
    """One message on the queue."""

    message_id: str
    body: str
    sent_at: float
    receives: int = 0
    visible_at: float = 0.0


@dataclass(frozen=True)
class DeadLetter:
    """A message in the DLQ, with why it is there."""

    message_id: str
    body: str
    reason: str
    at: float


@dataclass
class SimQueue:
    """One SQS queue with its DLQ."""

    visibility_timeout: float
    max_receive_count: int
    rng: random.Random
    messages: dict[str, Message] = field(default_factory=dict)
    dlq: list[DeadLetter] = field(default_factory=list)
    _ids: count[int] = field(default_factory=lambda: count(1))

    def send(self, body: str, now: float) -> str:
        """Put a message on the queue; returns its id."""
        message_id = f"m-{next(self._ids):07d}"
        self.messages[message_id] = Message(message_id, body, now, visible_at=now)
        return message_id

    def receive(self, limit: int, now: float, *, shuffle: bool) -> list[Message]:
        """Up to ``limit`` visible messages (oldest first, or in any order with ``shuffle``),
        each made invisible for the visibility timeout."""
        visible = [m for m in self.messages.values() if m.visible_at <= now]
        if shuffle:
            self.rng.shuffle(visible)
        taken: list[Message] = []
        for message in visible:
            if len(taken) == limit:
                break
            if message.receives >= self.max_receive_count:
                self.dead_letter(message.message_id, "maxReceiveCount reached", now)
                continue
            message.receives += 1
            message.visible_at = now + self.visibility_timeout
            taken.append(message)
        return taken

    def has_visible(self, now: float) -> bool:
        """True when a receive now would find something."""
        return any(m.visible_at <= now for m in self.messages.values())

    def next_visible_at(self) -> float | None:
        """When the next message becomes visible (None: the queue is empty)."""
        return min((m.visible_at for m in self.messages.values()), default=None)

    def delete(self, message_id: str) -> None:
        """Delete a message (a second delete is harmless, as in SQS)."""
        self.messages.pop(message_id, None)

    def dead_letter(self, message_id: str, reason: str, now: float) -> None:
        """Move a message to the DLQ with ``reason``."""
        message = self.messages.pop(message_id, None)
        if message is not None:
            self.dlq.append(DeadLetter(message.message_id, message.body, reason, now))

    def add_dead_letter(self, message_id: str, body: str, reason: str, now: float) -> None:
        """A dead letter sent explicitly (intake's SendMessage to the DLQ)."""
        self.dlq.append(DeadLetter(message_id, body, reason, now))

    def __len__(self) -> int:
        return len(self.messages)
