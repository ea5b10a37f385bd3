/**
 * The runner contract (test/contracts/runner-contract.ts) on an EC2-provisioned host: the EC2
 * provider launches an instance through the twin (test/helpers/ec2-twin.ts) with vh's own user data,
 * the host key is read from the console as the compute manager does, and the SSH runner drives the
 * instance over the key the user data authorised, with that host key pinned. An EC2 host is an SSH
 * host once booted; this proves the whole way there.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import { describe } from "vitest";
import { parseEnvironments } from "../../app/environments/file.js";
import { NotYetReadyError } from "../../app/contracts/compute.js";
import { createEc2Compute } from "../../worker/compute/ec2/provider.js";
import { createSshRunner } from "../../worker/runners/ssh/runner.js";
import { runnerContract } from "../contracts/runner-contract.js";
import { startEc2Twin } from "../helpers/ec2-twin.js";
import { skipWithoutSshd } from "../helpers/sshd.js";
import { waitFor } from "../helpers/stack.js";
import { createTempStore } from "../runners/temp-store.js";

describe.skipIf(skipWithoutSshd)("ec2-provisioned host", () => {
  runnerContract("ec2 (through the twin)", async () => {
    const twin = await startEc2Twin({ region: "eu-west-1" });
    const me = os.userInfo().username;
    const yaml = `environments:\n  - name: cpu\n    provider: ec2\n    region: eu-west-1\n    instance-type: c5.large\n    ami: ami-0123456789abcdef0\n    endpoint: ${twin.endpoint}\n    ssh-user: ${me}\n    ssh-port: ${twin.sshPort}\n`;
    const envs = parseEnvironments(yaml, "environments.yaml");
    const { EC2Client } = await import("@aws-sdk/client-ec2");
    const client = new EC2Client({ region: "eu-west-1", endpoint: twin.endpoint, credentials: { accessKeyId: "AKIDTWIN", secretAccessKey: "twin-secret" } });
    const compute = createEc2Compute({ environments: () => envs, clientFor: () => client });
    const key = ssh2.utils.generateKeyPairSync("ed25519", { comment: "vh-control-plane" });
    const [offer] = await compute.offers("cpu", { gpus: 0 });
    const launched = await compute.provision({
      offer: offer!,
      hostId: "contract",
      clientToken: `vh-contract-${Date.now()}`,
      bootstrap: { sshUser: me, publicKey: key.public, spotPollSeconds: 1, cluster: "contract", hostId: "contract" },
      tags: { "vh:cluster": "contract", "vh:host-id": "contract" },
    });
    const hostKey = await waitFor(
      "the instance's host key on its console",
      async () => {
        try {
          const r = await compute.bootReport("cpu", launched.instanceId);
          return r.hostKeys[0];
        } catch (err) {
          if (err instanceof NotYetReadyError) return undefined;
          throw err;
        }
      },
      15_000,
      50,
    );
    const st = (await compute.status("cpu", launched.instanceId))!;
    const store = createTempStore(await fs.mkdtemp(path.join(os.tmpdir(), "vh-ec2-store-")));
    const runner = createSshRunner({
      name: "ec2-contract",
      target: { host: st.privateIp!, port: twin.sshPort, username: me, privateKey: key.private, hostKeySha256: hostKey },
      store,
      docker: "never",
    });
    return {
      runner,
      store,
      async cleanup() {
        runner.close();
        await compute.terminate("cpu", launched.instanceId);
        await twin.close();
      },
    };
  });
});
