"""Training stand-in: standard library only; prints one JSON metrics line per epoch."""
import json
import sys

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
lr = float(args.get("lr", "0.01"))
epochs = int(args.get("epochs", "2"))
print("note " + args.get("note", ""))
for epoch in range(epochs):
    loss = round(lr * 10 + 1 / (epoch + 2), 4)
    print(json.dumps({"epoch": epoch, "loss": loss, "accuracy": round(1 - loss, 4)}))
