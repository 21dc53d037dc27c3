from tests.conftest import Api
from tests.webhooks.helpers import *
from tests.webhooks.listener import Listener, verified
import json

def test_scratch(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener)
    sub = team_subscription(api)
    api.advance(to=SUB_START)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "57.5"}))
    api.advance(to=PERIOD_END)
    for r in listener.received():
        e = verified(ep["secret"], r)
        print(e["type"], e["data"].get("status") if "status" in e["data"] else list(e["data"]), e["data"].get("statusDetails", {}).get("extendedStatus"))
    print(json.dumps(deliveries(api)[0], indent=1))
    print(now(api))
