export { default } from './Reserve';
