import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import type { ImportJob } from '../../../api/types';
import { calls, fail, routes } from '../../../test/backend';
import '../../../test/dom';
import { ImportModal } from './ImportModal';
import { testIds } from '../../../components/testIds';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const job = (overrides: Partial<ImportJob>): ImportJob => ({
  id: 1796300000000,
  kind: 'subnets',
  state: 'running',
  phase: 'validating',
  progress: 0,
  dry_run: false,
  applied: false,
  rows: 3000,
  valid: 0,
  checked: 0,
  stored: 0,
  errors: [],
  error_count: 0,
  created_at: '2026-11-22T10:00:00.000Z',
  started_at: '2026-11-22T10:00:00.000Z',
  finished_at: null,
  ...overrides,
});

const JOB_URL = 'read/import-jobs/1796300000000';

function paste(text: string) {
  fireEvent.change(screen.getByTestId(testIds.importModal.csv), { target: { value: text } });
}

describe('ImportModal', () => {
  beforeEach(() => mockFetch.mockReset());

  it('follows a large check and import (202 jobs) with a progress bar until they end', async () => {
    // Each job answers "running" until the test has seen its progress, then "done".
    let release = false;
    const checks = [
      job({ dry_run: true, progress: 0.5, checked: 1500 }),
      job({ dry_run: true, state: 'done', phase: null, progress: 1, checked: 3000, valid: 3000 }),
    ];
    const imports = [
      job({ phase: 'applying', progress: 0.65, checked: 3000, valid: 3000, stored: 1500 }),
      job({ state: 'done', phase: null, progress: 1, checked: 3000, valid: 3000, stored: 3000, applied: true }),
    ];
    let dryRun = true;
    mockFetch.mockImplementation(
      routes({
        'POST write/import/subnets': (req: { url: string }) => {
          dryRun = req.url.includes('dry_run=true');
          return dryRun ? job({ dry_run: true, state: 'queued', phase: null }) : job({ state: 'queued', phase: null });
        },
        [`GET ${JOB_URL}`]: () => {
          const states = dryRun ? checks : imports;
          return release ? states[1] : states[0];
        },
      })
    );
    const onImported = jest.fn();
    render(<ImportModal onDismiss={jest.fn()} onImported={onImported} pollMs={5} />);
    paste('cidr\n10.0.0.0/24\n');
    fireEvent.click(screen.getByTestId(testIds.importModal.check));

    const bar = await screen.findByTestId(testIds.importModal.progress);
    expect(bar).toHaveAttribute('role', 'progressbar');
    expect(await screen.findByText(/Checking rows: 1500 of 3000 · 50/)).toBeInTheDocument();
    release = true;
    expect(await screen.findByText('All 3000 rows are valid. Press Import to store them.')).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.importModal.progress)).not.toBeInTheDocument();
    expect(onImported).not.toHaveBeenCalled();

    const apply = screen.getByTestId(testIds.importModal.apply);
    expect(apply).toBeEnabled();
    release = false;
    fireEvent.click(apply);
    expect(await screen.findByText(/Storing rows: 1500 of 3000 · 65/)).toBeInTheDocument();
    release = true;
    expect(await screen.findByText('3000 of 3000 subnets stored.')).toBeInTheDocument();
    expect(onImported).toHaveBeenCalledTimes(1);
    expect(onImported).toHaveBeenCalledWith(expect.objectContaining({ state: 'done', applied: true }));
    expect(
      calls(mockFetch)
        .filter((c) => c.startsWith('POST'))
        .map((c) => c.split('?')[1])
    ).toEqual(['dry_run=true', 'dry_run=false']);
    expect(
      calls(mockFetch)
        .filter((c) => c.startsWith('GET'))
        .every((c) => c.endsWith(`/${JOB_URL}`))
    ).toBe(true);
  });

  it('lists the bad rows of a failed job, and says when only the first are listed', async () => {
    const errors = [
      { row: 7, line: 8, field: 'cidr', message: 'host bits set' },
      { row: 9, line: 10, message: 'subnet 10.0.9.0/24 already exists (id 3)' },
    ];
    mockFetch.mockImplementation(
      routes({
        'POST write/import/subnets': job({ dry_run: true }),
        [`GET ${JOB_URL}`]: job({
          dry_run: true,
          state: 'done',
          phase: null,
          progress: 1,
          valid: 2997,
          errors,
          error_count: 1003,
        }),
      })
    );
    render(<ImportModal onDismiss={jest.fn()} onImported={jest.fn()} pollMs={5} />);
    paste('cidr\n10.0.0.0/24\n');
    fireEvent.click(screen.getByTestId(testIds.importModal.check));
    const table = await screen.findByTestId(testIds.importModal.errors);
    expect(within(table).getAllByRole('row')).toHaveLength(3);
    expect(screen.getByText('1003 of 3000 rows have errors')).toBeInTheDocument();
    expect(screen.getByText(/The first 2 are listed\./)).toBeInTheDocument();
    expect(screen.getByTestId(testIds.importModal.apply)).toHaveAttribute('aria-disabled', 'true');
  });

  it('says so when the store changed under an import and it was undone', async () => {
    mockFetch.mockImplementation(
      routes({
        'POST write/import/addresses': job({ kind: 'addresses' }),
        [`GET ${JOB_URL}`]: job({
          kind: 'addresses',
          state: 'failed',
          phase: null,
          progress: 0.6,
          valid: 3000,
          errors: [{ row: 3000, line: 3001, message: '10.0.11.184 is already reserved (address id 9)' }],
          error_count: 1,
          error:
            'row 3000 could not be stored: the store changed after the file was checked; the 1500 row(s) stored before were removed again',
        }),
      })
    );
    const onImported = jest.fn();
    render(<ImportModal onDismiss={jest.fn()} onImported={onImported} initialKind="addresses" pollMs={5} />);
    paste('address\n10.0.0.1\n');
    fireEvent.click(screen.getByTestId(testIds.importModal.check));
    expect(await screen.findByText('The import was undone')).toBeInTheDocument();
    expect(screen.getByText(/the 1500 row\(s\) stored before were removed again/)).toBeInTheDocument();
    expect(within(screen.getByTestId(testIds.importModal.errors)).getAllByRole('row')[1]).toHaveTextContent('3000');
    expect(onImported).not.toHaveBeenCalled();
  });

  it('unlocks and says so when the exporter no longer knows the job (404)', async () => {
    mockFetch.mockImplementation(
      routes({
        'POST write/import/subnets': job({ dry_run: true }),
        [`GET ${JOB_URL}`]: fail(404, 'import job 1796300000000 does not exist', 'not_found'),
      })
    );
    render(<ImportModal onDismiss={jest.fn()} onImported={jest.fn()} pollMs={5} />);
    paste('cidr\n10.0.0.0/24\n');
    fireEvent.click(screen.getByTestId(testIds.importModal.check));
    expect(await screen.findByText('import job 1796300000000 does not exist')).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.importModal.progress)).not.toBeInTheDocument();
    expect(screen.getByTestId(testIds.importModal.csv)).toBeEnabled();
    expect(screen.getByTestId(testIds.importModal.check)).toBeEnabled();
  });

  it('keeps the synchronous answer of small files', async () => {
    mockFetch.mockImplementation(
      routes({
        'POST write/import/subnets': (req: { url: string }) => ({
          kind: 'subnets',
          dry_run: req.url.includes('dry_run=true'),
          applied: !req.url.includes('dry_run=true'),
          rows: 1,
          valid: 1,
          errors: [],
        }),
      })
    );
    const onImported = jest.fn();
    render(<ImportModal onDismiss={jest.fn()} onImported={onImported} pollMs={5} />);
    paste('cidr\n10.0.0.0/24\n');
    fireEvent.click(screen.getByTestId(testIds.importModal.check));
    expect(await screen.findByText('All 1 rows are valid. Press Import to store them.')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId(testIds.importModal.apply));
    expect(await screen.findByText('1 of 1 subnets stored.')).toBeInTheDocument();
    expect(onImported).toHaveBeenCalledTimes(1);
    expect(calls(mockFetch).every((c) => c.startsWith('POST'))).toBe(true);
  });
});
