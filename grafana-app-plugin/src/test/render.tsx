import React, { useEffect } from 'react';
import { configure, render } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';

// Pages with @grafana/ui's heavier components take a while on a first render in jsdom.
configure({ asyncUtilTimeout: 10000 });
jest.setTimeout(60000);

const FUTURE = { v7_startTransition: true, v7_relativeSplatPath: true };

const last = { location: '' };
function LocationSpy() {
  const location = useLocation();
  useEffect(() => {
    last.location = `${location.pathname}${location.search}`;
  });
  return null;
}

/** The router location after the last render (path and search). */
export function currentLocation(): string {
  return last.location;
}

/** Renders `element` at `url`, mounted at `path` like the app's routes do. */
export function renderAt(element: React.ReactElement, url = '/', path = '*') {
  return render(
    <MemoryRouter initialEntries={[url]} future={FUTURE}>
      <Routes>
        <Route path={path} element={element} />
      </Routes>
      <LocationSpy />
    </MemoryRouter>
  );
}

export function Router({ children, url = '/' }: { children: React.ReactNode; url?: string }) {
  return (
    <MemoryRouter initialEntries={[url]} future={FUTURE}>
      {children}
    </MemoryRouter>
  );
}
