export { default } from './Infrastructure';
