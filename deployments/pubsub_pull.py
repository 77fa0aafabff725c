"""Pull mode: read GCS notifications from a Pub/Sub subscription instead of receiving
pushes, for when nothing can reach the bridge over HTTP (no public endpoint, a laptop).

Same parsing, filter, de-duplication and event as the bridge; a message is acked only after
its event was emitted (or it was a duplicate or ignored), and nacked otherwise so Pub/Sub
delivers it again (give the subscription a dead-letter topic for unreadable messages).
Run it: ``FLASHFIRST_BRIDGE_SUBSCRIPTION=projects/p/subscriptions/s python -m
deployments.pubsub_pull``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flashfirst.deployments.bridge import BridgeSettings
from flashfirst.deployments.dispatch import Announcer, Handled
from flashfirst.deployments.notifications import MalformedNotification, from_pubsub_message
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.futures import StreamingPullFuture
from google.cloud.pubsub_v1.subscriber.message import Message
from pydantic import BaseModel

from flashfirst.errors import ConfigError

log = logging.getLogger("flashfirst.pubsub_pull")


class Pulled(BaseModel, frozen=True):
    """One message taken: its outcome, or None if it was nacked to be delivered again."""

    message_id: str
    handled: Handled | None


class NotificationPuller:
    """Reads one subscription; ``pull_once`` for a bounded step, ``serve`` to run forever."""

    def __init__(self, subscription: str, announcer: Announcer,
                 subscriber: pubsub_v1.SubscriberClient | None = None) -> None:
        self.subscription = subscription
        self.announcer = announcer
        self.subscriber = subscriber or pubsub_v1.SubscriberClient()

    def handle(self, data: bytes, attributes: Mapping[str, str],
               message_id: str) -> Handled | None:
        """The message's outcome, or None if it should be delivered again (nack)."""
        try:
            return self.announcer.handle(from_pubsub_message(data, attributes, message_id))
        except MalformedNotification as exc:
            log.error("unreadable message %s: %s", message_id, exc)
        except Exception:
            log.exception("could not announce message %s; it will be delivered again",
                          message_id)
        return None

    def pull_once(self, max_messages: int = 100, timeout: float = 10.0) -> list[Pulled]:
        """One synchronous pull: handle what arrived, ack it, nack what failed."""
        response = self.subscriber.pull(subscription=self.subscription,
                                        max_messages=max_messages, timeout=timeout)
        done: list[Pulled] = []
        ack: list[str] = []
        nack: list[str] = []
        for received in response.received_messages:
            msg = received.message
            handled = self.handle(msg.data, dict(msg.attributes), msg.message_id)
            (ack if handled else nack).append(received.ack_id)
            done.append(Pulled(message_id=msg.message_id, handled=handled))
        if ack:
            self.subscriber.acknowledge(subscription=self.subscription, ack_ids=ack)
        if nack:
            self.subscriber.modify_ack_deadline(subscription=self.subscription, ack_ids=nack,
                                                ack_deadline_seconds=0)
        return done

    def serve(self) -> StreamingPullFuture:
        """Streaming pull in the client's threads; ``.cancel()`` the future to stop."""

        def on_message(message: Message) -> None:
            handled = self.handle(message.data, dict(message.attributes), message.message_id)
            if handled:
                message.ack()
            else:
                message.nack()

        return self.subscriber.subscribe(self.subscription, callback=on_message)


def main() -> None:
    settings = BridgeSettings()
    if not settings.subscription:
        raise ConfigError("FLASHFIRST_BRIDGE_SUBSCRIPTION is not set: which subscription?")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    future = NotificationPuller(settings.subscription, settings.announcer()).serve()
    log.info("pulling %s", settings.subscription)
    try:
        future.result()
    except KeyboardInterrupt:
        future.cancel()
        future.result()


if __name__ == "__main__":
    main()
