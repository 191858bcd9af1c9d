import React, { Suspense } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { type AppRootProps } from '@grafana/data';
import { LoadingPlaceholder } from '@grafana/ui';
import { ROUTES } from '../../constants';
import { prefixRoute } from '../../utils/utils.routing';

// Each page is its own chunk, loaded when first visited.
const Overview = React.lazy(() => import(/* webpackChunkName: "overview" */ '../../pages/Overview'));
const Subnet = React.lazy(() => import(/* webpackChunkName: "subnet" */ '../../pages/Subnet'));
const Reserve = React.lazy(() => import(/* webpackChunkName: "reserve" */ '../../pages/Reserve'));
const Activity = React.lazy(() => import(/* webpackChunkName: "activity" */ '../../pages/Activity'));
const Traffic = React.lazy(() => import(/* webpackChunkName: "traffic" */ '../../pages/Traffic'));
const Infrastructure = React.lazy(() => import(/* webpackChunkName: "infrastructure" */ '../../pages/Infrastructure'));
const CreateVm = React.lazy(() => import(/* webpackChunkName: "create-vm" */ '../../pages/CreateVm'));

function App(_props: AppRootProps) {
  return (
    <Suspense fallback={<LoadingPlaceholder text="Loading…" />}>
      <Routes>
        <Route path={ROUTES.Overview} element={<Overview />} />
        <Route path={`${ROUTES.Subnet}/:id`} element={<Subnet />} />
        <Route path={ROUTES.Reserve} element={<Reserve />} />
        <Route path={ROUTES.Activity} element={<Activity />} />
        <Route path={ROUTES.Traffic} element={<Traffic />} />
        <Route path={ROUTES.Infrastructure} element={<Infrastructure />} />
        <Route path={ROUTES.CreateVm} element={<CreateVm />} />
        {/* Default page (an absolute target: relative links in splat routes change meaning with v7_relativeSplatPath) */}
        <Route path="*" element={<Navigate to={prefixRoute(ROUTES.Overview)} replace />} />
      </Routes>
    </Suspense>
  );
}

export default App;
