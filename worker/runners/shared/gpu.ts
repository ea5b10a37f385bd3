/**
 * Parsers for `nvidia-smi` output, shared by every runner (the SSH runner runs the same commands
 * remotely). Pure and forgiving: a host whose driver is broken reports no GPUs, never a crash.
 *
 * Pitfalls handled (peers-bot-compute §3): error text instead of CSV ("NVIDIA-SMI has failed
 * because it couldn't communicate with the NVIDIA driver", "No devices were found"), "[N/A]" /
 * "N/A" / "[Not Supported]" fields, CRLF line ends, blank and malformed lines, names with commas.
 */
import type { HostInfo } from "../../../app/contracts/runner.js";

export type GpuInfo = HostInfo["gpus"][number];

/** The query whose output `parseGpuQuery` reads. */
export const NVIDIA_SMI_QUERY_ARGS = [
  "--query-gpu=index,uuid,name,memory.total,driver_version",
  "--format=csv,noheader,nounits",
];

function isUnknown(field: string): boolean {
  return /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]?$/i.test(field);
}

/**
 * Parse `nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader,nounits`.
 * Lines that are not a GPU row (no integer index, too few fields) are skipped. Unknown memory → 0,
 * unknown uuid/name/driver → "".
 */
export function parseGpuQuery(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length < 5) continue;
    const [indexText, uuidText] = fields as [string, string];
    const memoryText = fields[fields.length - 2] as string;
    const driverText = fields[fields.length - 1] as string;
    // A GPU name may itself contain a comma: everything between uuid and memory is the name.
    const nameText = fields.slice(2, -2).join(", ");
    if (!/^\d+$/.test(indexText)) continue;
    const memory = isUnknown(memoryText) ? 0 : Number(memoryText);
    if (!Number.isFinite(memory) || memory < 0) continue;
    gpus.push({
      index: Number(indexText),
      uuid: isUnknown(uuidText) ? "" : uuidText,
      name: isUnknown(nameText) ? "" : nameText,
      memoryMiB: Math.round(memory),
      driverVersion: isUnknown(driverText) ? "" : driverText,
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

/** The CUDA version from the banner of plain `nvidia-smi` ("CUDA Version: 12.4"), else null. */
export function parseCudaVersion(text: string): string | null {
  const m = /CUDA Version\s*:\s*(\d+(?:\.\d+)*)/i.exec(text);
  return m?.[1] ?? null;
}
