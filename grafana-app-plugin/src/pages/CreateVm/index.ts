export { default } from './CreateVm';
