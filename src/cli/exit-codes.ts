// istioctl's sysexits (istioctl/cmd/sysexits.go), so scripts written for istioctl carry over.
export const ExitCode = {
  ok: 0,
  denied: 1,
  usage: 64,
  badInput: 65,
  analyzerFindings: 79,
} as const;
