// Progress lines for `ambit up`: one "✔ …" per finished step, "✖ …" for a failure, "  …" for detail.
export interface Progress {
  done(message: string): void;
  failed(message: string): void;
  info(message: string): void;
}

export function progressTo(write: (text: string) => void): Progress {
  return {
    done: (m) => write(`✔ ${m}\n`),
    failed: (m) => write(`✖ ${m}\n`),
    info: (m) => write(`  ${m}\n`),
  };
}

export const silentProgress: Progress = { done: () => {}, failed: () => {}, info: () => {} };
