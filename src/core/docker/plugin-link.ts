// What `extmount install-plugin` does with ~/.docker/cli-plugins/docker-extmount: create, replace or keep the link, or refuse.

import { ExtmountError } from '../errors.js';

/** What is at the link's path now (read with lstat, never through it). */
export type LinkState =
  | { kind: 'missing' }
  | {
      kind: 'symlink';
      target: string;
      /** it resolves to this checkout's hooks/docker-extmount */ resolvesToUs: boolean;
    }
  | { kind: 'other'; what: string };

export interface PluginLinkPlan {
  link: string;
  target: string;
  action: 'create' | 'replace' | 'none';
  /** The target of the link that is replaced (or kept), null when nothing was there. */
  previous: string | null;
}

/** A link to another extmount's entry (an older checkout or package) is ours to replace; anything else is not. */
export function planPluginLink(link: string, target: string, state: LinkState): PluginLinkPlan {
  switch (state.kind) {
    case 'missing':
      return { link, target, action: 'create', previous: null };
    case 'symlink':
      if (state.target === target || state.resolvesToUs)
        return { link, target, action: 'none', previous: state.target };
      if (state.target.endsWith('/hooks/docker-extmount'))
        return { link, target, action: 'replace', previous: state.target };
      throw foreign(link, `a symlink to ${state.target}, not to an extmount hooks/docker-extmount`);
    case 'other':
      throw foreign(link, state.what);
  }
}

function foreign(link: string, what: string): ExtmountError {
  return new ExtmountError('refused', `${link} is ${what}; extmount does not overwrite it`, {
    hint: 'move it away if nothing needs it, then run extmount install-plugin --apply again',
  });
}
