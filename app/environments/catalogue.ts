/**
 * The EC2 instance types vh knows without asking AWS: GPUs (count, model, memory), vCPUs, memory
 * and the Linux on-demand price per hour in us-east-1 (USD, public list prices; other regions
 * differ by a few percent, and a spot price is read live). It covers the types Valohai lists
 * (g2, p2, p3, c4, m4, t2) and current ones (g4dn, g5, g6, p4d, p5). An environment may name a type
 * that is not here when it gives its GPU count and price itself (docs/compute.md).
 */

export interface InstanceType {
  name: string;
  gpus: number;
  gpuModel: string | null;
  gpuMemoryMiB: number;
  vcpus: number;
  memoryGiB: number;
  /** USD per hour, Linux on-demand, us-east-1. */
  onDemandPerHour: number;
}

type Row = [name: string, gpus: number, gpuModel: string | null, gpuMemoryMiB: number, vcpus: number, memoryGiB: number, usd: number];

const ROWS: Row[] = [
  // Valohai's list.
  ["g2.2xlarge", 1, "NVIDIA GRID K520", 4096, 8, 15, 0.65],
  ["g2.8xlarge", 4, "NVIDIA GRID K520", 4096, 32, 60, 2.6],
  ["p2.xlarge", 1, "NVIDIA K80", 12288, 4, 61, 0.9],
  ["p2.8xlarge", 8, "NVIDIA K80", 12288, 32, 488, 7.2],
  ["p2.16xlarge", 16, "NVIDIA K80", 12288, 64, 732, 14.4],
  ["p3.2xlarge", 1, "NVIDIA V100", 16384, 8, 61, 3.06],
  ["p3.8xlarge", 4, "NVIDIA V100", 16384, 32, 244, 12.24],
  ["p3.16xlarge", 8, "NVIDIA V100", 16384, 64, 488, 24.48],
  ["p3dn.24xlarge", 8, "NVIDIA V100", 32768, 96, 768, 31.212],
  ["c4.2xlarge", 0, null, 0, 8, 15, 0.398],
  ["c4.4xlarge", 0, null, 0, 16, 30, 0.796],
  ["m4.2xlarge", 0, null, 0, 8, 32, 0.4],
  ["m4.4xlarge", 0, null, 0, 16, 64, 0.8],
  ["t2.xlarge", 0, null, 0, 4, 16, 0.1856],
  // Current CPU types.
  ["t3.medium", 0, null, 0, 2, 4, 0.0416],
  ["t3.large", 0, null, 0, 2, 8, 0.0832],
  ["c5.large", 0, null, 0, 2, 4, 0.085],
  ["c5.xlarge", 0, null, 0, 4, 8, 0.17],
  ["c5.2xlarge", 0, null, 0, 8, 16, 0.34],
  ["m5.xlarge", 0, null, 0, 4, 16, 0.192],
  ["m5.2xlarge", 0, null, 0, 8, 32, 0.384],
  ["c7i.2xlarge", 0, null, 0, 8, 16, 0.357],
  ["m7i.2xlarge", 0, null, 0, 8, 32, 0.4032],
  // Current GPU types.
  ["g4dn.xlarge", 1, "NVIDIA T4", 16384, 4, 16, 0.526],
  ["g4dn.2xlarge", 1, "NVIDIA T4", 16384, 8, 32, 0.752],
  ["g4dn.12xlarge", 4, "NVIDIA T4", 16384, 48, 192, 3.912],
  ["g4dn.metal", 8, "NVIDIA T4", 16384, 96, 384, 7.824],
  ["g5.xlarge", 1, "NVIDIA A10G", 24576, 4, 16, 1.006],
  ["g5.2xlarge", 1, "NVIDIA A10G", 24576, 8, 32, 1.212],
  ["g5.4xlarge", 1, "NVIDIA A10G", 24576, 16, 64, 1.624],
  ["g5.12xlarge", 4, "NVIDIA A10G", 24576, 48, 192, 5.672],
  ["g5.48xlarge", 8, "NVIDIA A10G", 24576, 192, 768, 16.288],
  ["g6.xlarge", 1, "NVIDIA L4", 24576, 4, 16, 0.8048],
  ["g6.2xlarge", 1, "NVIDIA L4", 24576, 8, 32, 0.9776],
  ["g6.12xlarge", 4, "NVIDIA L4", 24576, 48, 192, 4.6016],
  ["g6.48xlarge", 8, "NVIDIA L4", 24576, 192, 768, 13.3504],
  ["g6e.xlarge", 1, "NVIDIA L40S", 49152, 4, 32, 1.861],
  ["p4d.24xlarge", 8, "NVIDIA A100", 40960, 96, 1152, 32.7726],
  ["p4de.24xlarge", 8, "NVIDIA A100", 81920, 96, 1152, 40.9657],
  ["p5.48xlarge", 8, "NVIDIA H100", 81920, 192, 2048, 98.32],
];

export const INSTANCE_TYPES: ReadonlyMap<string, InstanceType> = new Map(
  ROWS.map(([name, gpus, gpuModel, gpuMemoryMiB, vcpus, memoryGiB, usd]) => [name, { name, gpus, gpuModel, gpuMemoryMiB, vcpus, memoryGiB, onDemandPerHour: usd }]),
);

export function instanceType(name: string): InstanceType | undefined {
  return INSTANCE_TYPES.get(name);
}
