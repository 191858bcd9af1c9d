import React from 'react';
import { Button, type IconName, Modal } from '@grafana/ui';

interface Props {
  /** what the submit button says */
  label: React.ReactNode;
  busy: boolean;
  onCancel: () => void;
  /** the submit button's icon while not busy */
  icon?: IconName;
  testId?: string;
}

/** The footer of a form in a modal: Cancel, and a submit button that spins while the request runs. */
export function SubmitRow({ label, busy, onCancel, icon, testId }: Props) {
  return (
    <Modal.ButtonRow>
      <Button variant="secondary" fill="outline" onClick={onCancel} type="button">
        Cancel
      </Button>
      <Button type="submit" disabled={busy} icon={busy ? 'spinner' : icon} data-testid={testId}>
        {label}
      </Button>
    </Modal.ButtonRow>
  );
}
