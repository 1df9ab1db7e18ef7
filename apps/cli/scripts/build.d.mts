export declare function buildCli(options?: {
  quiet?: boolean;
}): Promise<{ inputs: number; ms: number }>;
