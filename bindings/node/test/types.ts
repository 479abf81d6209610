// Compiled by test/types.test.js with `tsc --strict --noEmit`: the declarations
// in index.d.ts accept the calls the documentation shows and refuse wrong ones.
import { Org, Host, LoadError, InputError, Answer, ModuleInfo } from '..';

async function uses(): Promise<void> {
  const host = new Host({ cacheDir: null });
  const org: Org = host.org('examples/strict');
  const other = new Org('examples/loose', { host });
  const info: ModuleInfo = org.info();
  const version: string = info.version;
  const one: Answer = org.qualify({ id: 'L-1', source: 'web_form' }, { now: new Date(), emit: 'both' });
  const batch: Answer[] = await org.decide('qualify', new Uint8Array([123, 125]), { now: '2026-11-25T09:00:00Z', jobs: 2 });
  const records: Answer[] = org.decideSync('forecast', [{ id: 'O-1' }], { format: 'canonical' });
  other.transition({ opportunity: { id: 'O-1' } }, { to: 'Develop' });
  try {
    new Org('nowhere');
  } catch (e) {
    if (e instanceof LoadError || e instanceof InputError) {
      const code: 'ERR_CRM_RULES_LOAD' | 'ERR_CRM_RULES_INPUT' = e.code;
      void code;
    }
  }
  // @ts-expect-error: not a decision kind
  await org.decide('score', '{}');
  // @ts-expect-error: emit is one of three words
  org.qualify({}, { emit: 'all' });
  // @ts-expect-error: jobs is for batches
  org.qualify({}, { jobs: 2 });
  // @ts-expect-error: the time is a Date or a string
  org.qualify({}, { now: 5 });
  void [version, one, batch, records];
}
void uses;
