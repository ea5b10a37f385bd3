import json
import os

config_dir = os.environ.get("VH_CONFIG_DIR", "/valohai/config")
outputs_dir = os.environ.get("VH_OUTPUTS_DIR", "/valohai/outputs")
with open(os.path.join(config_dir, "parameters.json")) as f:
    params = json.load(f)
loss = 1.0
for epoch in range(int(params["epochs"])):
    loss *= 0.5
    print(json.dumps({"epoch": epoch, "loss": loss}), flush=True)
with open(os.path.join(outputs_dir, "model.bin"), "wb") as f:
    f.write(b"churn-model:" + str(params["epochs"]).encode())
with open(os.path.join(outputs_dir, "model.bin.metadata.json"), "w") as f:
    json.dump({"valohai.model-versions": [{"model_uri": "model://churn/"}]}, f)
