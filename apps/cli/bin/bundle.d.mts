export declare const DEFAULT_ROOT: string;
export declare const DEFAULT_MANIFEST: string;
export declare function bundleIsCurrent(options?: {
  root?: string;
  manifest?: string;
  env?: Record<string, string | undefined>;
}): boolean;
