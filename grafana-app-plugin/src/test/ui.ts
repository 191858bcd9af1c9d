// What page tests do the same way: choose in a Combobox, and sign in with a role.
import { fireEvent, screen } from '@testing-library/react';
import { config } from '@grafana/runtime';

/** Chooses `text` in the Combobox with this test id: the first option it filters to, or the typed value where custom values are allowed. */
export function pick(testId: string, text: string) {
  const input = screen.getByTestId(testId);
  fireEvent.focus(input);
  fireEvent.change(input, { target: { value: text } });
  fireEvent.keyDown(input, { key: 'Enter' });
}

/** The signed-in user's organization role in Grafana's boot data (undefined: none set). */
export function setRole(role: string | undefined) {
  const bootData = (config.bootData ?? {}) as typeof config.bootData;
  config.bootData = { ...bootData, user: { ...bootData?.user, orgRole: role } } as typeof config.bootData;
}
