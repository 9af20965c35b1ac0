"""A conformance suite that is not ours (issue 18 item 8): the emulator answers what Qiniu's own SDKs send.

Each case replays, request by request, what ``qiniu/pandora-go-sdk`` or ``qiniu/pandora-java-sdk`` sends for
one call of docs/seed-api.md (header names in the SDK's spelling, its body, its signature) and checks the
answer against what the seed documents. The rule that keeps it independent: nothing here imports
``airflow_provider_pandora`` except the emulator's test fixture; the signer and the push bodies are written
again from docs/sdk-facts.md. See README.md in this folder.
"""
