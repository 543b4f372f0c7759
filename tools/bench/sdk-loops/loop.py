"""Bench scenario 8, the Python SDK: publish futures created in a loop and gathered (the client batches them),
then a consume loop that acks every message without awaiting each ack. Prints one JSON line:
{"publishSeconds", "consumeSeconds"}.   python loop.py URL TOPIC SUBSCRIPTION COUNT"""

import asyncio
import json
import sys
import time

import cebus


async def main(url: str, topic: str, subscription: str, count: int) -> None:
    data = "x" * 256
    async with cebus.Client(url) as client:
        started = time.perf_counter()
        published = [
            client.publish(topic, {"id": f"p{n}", "type": "bench.event", "source": "/bench", "data": data})
            for n in range(count)
        ]
        await asyncio.gather(*published)
        publish_seconds = time.perf_counter() - started

        started = time.perf_counter()
        acks = []
        subscription_ = client.subscribe(subscription, max_outstanding=2000)
        async for message in subscription_:
            acks.append(message.ack())
            if len(acks) == count:
                break
        await asyncio.gather(*acks)
        consume_seconds = time.perf_counter() - started
        await subscription_.close()
    print(json.dumps({"publishSeconds": publish_seconds, "consumeSeconds": consume_seconds}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
