"""A three-step agent run against `make run`'s demo gateway (LLM -> tool -> LLM -> LLM), so
`tollgate runs show RUN --database .run/tollgate.db` has a timeline to draw.

Usage: .tools/venv/bin/python scripts/demo_agent_run.py RUN_ID [MODEL]
"""
import json
import sys
import urllib.request

GATEWAY = "http://127.0.0.1:8080/v1/chat/completions"
DEMO_KEY = "tg-demo-key-change-me"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def main(run_id, model):
    messages = [{"role": "user", "content": "What is the weather in Paris? Then summarise."}]
    parent = None
    for step in range(3):
        headers = {"authorization": f"Bearer {DEMO_KEY}", "content-type": "application/json",
                   "x-tollgate-run-id": run_id, "x-tollgate-agent-id": "planner"}
        if parent:
            headers["x-tollgate-parent-step-id"] = parent
        if step == 0:
            headers["x-mock-tool"] = "get_weather"  # the demo provider answers with that tool call
        body = json.dumps({"model": model, "messages": messages, "tools": [WEATHER]}).encode()
        with urllib.request.urlopen(urllib.request.Request(GATEWAY, body, headers)) as response:
            message = json.load(response)["choices"][0]["message"]
            parent = response.headers["x-tollgate-step-id"]
        messages.append(message)
        for call in message.get("tool_calls") or []:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": "18 C, sunny"})
        if not message.get("tool_calls"):
            messages.append({"role": "user", "content": "And tomorrow?"})
    print(f"run {run_id}: 3 steps sent")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "demo-gpt")
